# The first five minutes on a sick server: who is on it, what runs, what
# listens, CPU/memory/swap/load, disks and mounts, kernel and system logs,
# cron jobs, recent package changes and failed services.
#
#   drover run -i inventory.hcl examples/runbooks/first-five-minutes.hcl web3
#   drover run -i inventory.hcl examples/runbooks/first-five-minutes.hcl all --html report.html
#
# Nothing here can change a host: drover accepts only probe tasks in a
# runbook, and runs them without sudo unless a probe sets become = true.
# Probes that run as root (log in as root, or --become) run in a read-only
# mount namespace as an unprivileged uid that can read every file but not
# other users' sockets' owners nor a restricted dmesg (docs/runbooks.md).

variable "allowed_ports" {
  description = "Listening ports that are expected anywhere."
  type        = list(string)
  default     = ["22", "25", "53", "68", "80", "123", "323", "443", "546"]
}

variable "allowed_processes" {
  description = "Processes whose listening sockets are expected on any port."
  type        = list(string)
  default     = ["sshd", "systemd-resolve", "chronyd", "ntpd", "dhclient", "systemd-network", "avahi-daemon", "cupsd", "master", "exim4", "rpcbind"]
}

variable "cpu_hog_pct" {
  description = "A process above this %CPU (of one core) is reported."
  type        = number
  default     = 80
}

variable "disk_warn_pct" {
  type    = number
  default = 85
}

variable "disk_crit_pct" {
  type    = number
  default = 95
}

locals {
  # Filesystems that are read-only by design or not real disks.
  pseudo_fs = ["proc", "sysfs", "cgroup", "cgroup2", "squashfs", "iso9660", "tracefs", "debugfs",
  "securityfs", "pstore", "bpf", "configfs", "fusectl", "efivarfs", "autofs", "nsfs", "devpts", "mqueue", "hugetlbfs", "binfmt_misc", "ramfs"]
}

runbook "first-five-minutes" {
  description = "The classic first look at a server"

  # --- who ---------------------------------------------------------------
  probe "logged_in" {
    command  = "w"
    fallback = ["who -a"]
  }
  probe "last_logins" {
    command  = "last -n 20 -w 2>/dev/null || last -n 20"
    requires = ["last"]
    fallback = ["lastlog 2>/dev/null | head -20"]
  }

  # --- what runs ---------------------------------------------------------
  probe "top_cpu" {
    command = "ps -eo pid,user,pcpu,pmem,stat,etime,comm,args --sort=-pcpu | head -20 | cut -c1-240"
    format  = "table"
    columns = ["pid", "user", "pcpu", "pmem", "stat", "etime", "comm", "args"]
  }
  probe "process_tree" {
    command  = "pstree -ap | cut -c1-200 | head -150"
    requires = ["pstree"]
    fallback = ["ps -ejH | head -150"]
  }

  # --- listening services (ss, or netstat where there is no ss) ----------
  probe "listening" {
    command  = "ss -tulpn"
    fallback = ["netstat -tulpn"]
    # ss:      tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))
    # netstat: tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN 1/sshd
    regex = "^(?P<proto>tcp6?|udp6?)\\s+(?:[A-Z-]+\\s+)?\\d+\\s+\\d+\\s+(?P<addr>\\S+):(?P<port>\\d+)\\s+\\S+\\s*(?:LISTEN\\s+)?(?:users:\\(\\(\"(?P<ss_proc>[^\"]+)\"|\\d+/(?P<ns_proc>\\S+))?"
  }

  # --- CPU, memory, swap, load --------------------------------------------
  probe "uptime" { command = "uptime" }
  probe "loadavg" {
    command = "cat /proc/loadavg"
    regex   = "^(?P<l1>[0-9.]+) (?P<l5>[0-9.]+) (?P<l15>[0-9.]+) (?P<running>\\d+)/(?P<total>\\d+)"
  }
  probe "free" { command = "free -m" }
  probe "meminfo" {
    command = "cat /proc/meminfo"
    format  = "kv"
  }
  probe "vmstat" {
    command = "vmstat 1 3"
    timeout = 10
  }

  # --- disks, I/O, mounts --------------------------------------------------
  probe "df" {
    command = "df -hP"
    format  = "table"
    columns = ["filesystem", "size", "used", "avail", "pct", "mount"]
  }
  probe "df_inodes" {
    command = "df -iP"
    format  = "table"
    columns = ["filesystem", "inodes", "iused", "ifree", "pct", "mount"]
  }
  probe "iostat" {
    command  = "iostat -xz 1 2"
    fallback = ["vmstat -d", "cat /proc/diskstats"]
    timeout  = 10
  }
  probe "mounts" {
    # The filesystem's own (super block) options, not the mount's: a root
    # probe runs in a namespace where every mount is read-only, and what
    # matters is whether the filesystem itself went read-only (after errors).
    command = "sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \\([^ ]*\\) .* - \\([^ ]*\\) \\([^ ]*\\) \\([^ ]*\\)$/\\3 \\1 \\2 \\4/p' /proc/self/mountinfo"
    format  = "table"
    header  = false
    columns = ["device", "mount", "fstype", "options"]
  }

  # --- kernel and system logs ----------------------------------------------
  probe "dmesg_errors" {
    command = "dmesg -T --level=emerg,alert,crit,err 2>/dev/null | tail -40"
  }
  probe "oom_kills" {
    command       = "{ dmesg 2>/dev/null || journalctl -k -q --no-pager 2>/dev/null; } | grep -iE 'out of memory|oom-kill|killed process' | tail -20"
    ok_exit_codes = [0, 1]
    format        = "lines"
  }
  probe "log_errors" {
    command  = "journalctl -p err -n 40 --no-pager -q --since -24h"
    fallback = ["for f in /var/log/syslog /var/log/messages; do [ -r \"$f\" ] && grep -iE 'error|fail|crit' \"$f\" | tail -40 && break; done"]
    ok_exit_codes = [0, 1]
  }

  # --- cron jobs, package changes, failed services -------------------------
  probe "cron" {
    command       = "cat /etc/crontab 2>/dev/null; ls /etc/cron.d 2>/dev/null | sed 's|^|/etc/cron.d/|'; for u in $(cut -d: -f1 /etc/passwd); do crontab -l -u \"$u\" 2>/dev/null | grep -v '^#' | sed \"s|^|$u: |\"; done"
    ok_exit_codes = [0, 1]
  }
  probe "package_changes" {
    command       = "zgrep -hE ' (install|upgrade|remove|purge) ' $(ls -tr /var/log/dpkg.log*) | tail -20"
    requires      = ["dpkg", "zgrep"]
    fallback      = ["rpm -qa --last | head -20"]
    ok_exit_codes = [0, 1]
  }
  probe "failed_units" {
    command  = "if [ -d /run/systemd/system ]; then systemctl --failed --no-legend --plain --no-pager; else echo 'not booted with systemd' >&2; exit 127; fi"
    requires = ["systemctl"]
    fallback = ["rc-status --crashed"]
    regex    = "^\\s*(?P<unit>\\S+)\\s"
  }

  # --- findings --------------------------------------------------------------
  check "disk_full" {
    description = "A filesystem is (nearly) full."
    for_each    = { for r in probe.df.rows : r.mount => r if num(r.pct) != null }
    crit        = num(each.value.pct) >= var.disk_crit_pct
    warn        = num(each.value.pct) >= var.disk_warn_pct
    message     = "${each.key} is ${each.value.pct} full (${each.value.avail} left of ${each.value.size}, ${each.value.filesystem})"
  }
  check "inodes_full" {
    for_each = { for r in probe.df_inodes.rows : r.mount => r if num(r.pct) != null }
    crit     = num(each.value.pct) >= var.disk_crit_pct
    warn     = num(each.value.pct) >= var.disk_warn_pct
    message  = "${each.key} has used ${each.value.pct} of its inodes"
  }
  check "read_only_mount" {
    # A mount point can be stacked (mounted over): each.value lists them all.
    for_each = { for r in probe.mounts.rows : r.mount => r...
    if !contains(local.pseudo_fs, r.fstype) && !startswith(r.mount, "/proc") && !startswith(r.mount, "/sys") }
    crit    = length([for m in each.value : m if contains(split(",", m.options), "ro")]) > 0
    message = "${each.key} (${each.value[0].fstype} on ${each.value[0].device}) is mounted read-only"
  }
  check "load" {
    crit    = num(probe.loadavg.rows[0].l1) > 2 * try(host.facts.cpus, 1)
    warn    = num(probe.loadavg.rows[0].l1) > try(host.facts.cpus, 1)
    message = "load ${probe.loadavg.rows[0].l1} (5 min ${probe.loadavg.rows[0].l5}) on ${try(host.facts.cpus, "?")} CPUs"
  }
  check "runaway_process" {
    for_each = { for r in probe.top_cpu.rows : r.pid => r if num(r.pcpu) != null }
    warn     = num(each.value.pcpu) >= var.cpu_hog_pct
    message  = "${each.value.comm} (pid ${each.key}, user ${each.value.user}) uses ${each.value.pcpu}% CPU, running for ${each.value.etime}"
  }
  check "swap_in_use" {
    when    = can(probe.meminfo.values["SwapTotal"])
    warn    = num(probe.meminfo.values["SwapTotal"]) - num(probe.meminfo.values["SwapFree"]) > 0
    message = "swap in use: ${floor((num(probe.meminfo.values["SwapTotal"]) - num(probe.meminfo.values["SwapFree"])) / 1024)} MiB"
  }
  check "memory_low" {
    crit    = num(probe.meminfo.values["MemAvailable"]) < 0.05 * num(probe.meminfo.values["MemTotal"])
    warn    = num(probe.meminfo.values["MemAvailable"]) < 0.10 * num(probe.meminfo.values["MemTotal"])
    message = "only ${floor(num(probe.meminfo.values["MemAvailable"]) / 1024)} MiB of ${floor(num(probe.meminfo.values["MemTotal"]) / 1024)} MiB available"
  }
  check "oom_kills" {
    crit    = length(probe.oom_kills.lines) > 0
    message = "the kernel killed processes for lack of memory (${length(probe.oom_kills.lines)} log lines; last: ${try(probe.oom_kills.lines[length(probe.oom_kills.lines) - 1], "")})"
  }
  check "unexpected_listener" {
    description = "A process listens on a port that is in neither allow-list."
    # Without the process name (another user's socket, or a root probe under
    # read-only enforcement, which cannot read other processes' fds) the
    # port allow-list alone decides.
    for_each = { for r in probe.listening.rows : "${r.proto}/${r.port}" => merge(r, { proc = r.ss_proc != "" ? r.ss_proc : r.ns_proc }) }
    warn     = !contains(var.allowed_ports, each.value.port) && !contains(var.allowed_processes, each.value.proc)
    message  = "${each.value.proc != "" ? each.value.proc : "a process (name not readable)"} listens on ${each.value.addr}:${each.value.port} (${each.value.proto}), not in the allow-lists"
  }
  check "failed_units" {
    for_each = toset([for r in probe.failed_units.rows : r.unit])
    crit     = true
    message  = "service ${each.key} has failed"
  }
  check "kernel_errors" {
    warn    = trimspace(probe.dmesg_errors.stdout) != ""
    message = "the kernel logged errors: ${try(split("\n", trimspace(probe.dmesg_errors.stdout))[0], "")}"
  }
}
