# "The server is slow": load against CPUs, what burns CPU, what waits on I/O
# (D state), memory pressure and swapping, pressure stall information.
#
#   drover run -i inventory.hcl examples/runbooks/high-load.hcl web

variable "cpu_hog_pct" {
  description = "A process above this %CPU (of one core) is reported."
  type        = number
  default     = 80
}

runbook "high-load" {
  description = "Why the server is slow"

  probe "loadavg" {
    command = "cat /proc/loadavg"
    regex   = "^(?P<l1>[0-9.]+) (?P<l5>[0-9.]+) (?P<l15>[0-9.]+) (?P<running>\\d+)/(?P<total>\\d+)"
  }
  probe "top_cpu" {
    command = "ps -eo pid,user,pcpu,pmem,stat,etime,comm --sort=-pcpu | head -15"
    format  = "table"
    columns = ["pid", "user", "pcpu", "pmem", "stat", "etime", "comm"]
  }
  probe "top_mem" {
    command = "ps -eo pid,user,rss,pmem,comm --sort=-rss | head -15"
    format  = "table"
    columns = ["pid", "user", "rss", "pmem", "comm"]
  }
  probe "blocked" {
    # Processes in uninterruptible sleep wait on I/O (or a dead NFS server).
    command = "ps -eo stat,pid,user,wchan:32,comm | awk 'NR == 1 || $1 ~ /^D/'"
    format  = "table"
    columns = ["stat", "pid", "user", "wchan", "comm"]
  }
  probe "vmstat" {
    command = "vmstat 1 5"
    timeout = 15
  }
  probe "iostat" {
    command  = "iostat -xz 1 3"
    fallback = ["vmstat -d"]
    timeout  = 15
  }
  probe "meminfo" {
    command = "cat /proc/meminfo"
    format  = "kv"
  }
  probe "psi_cpu" {
    command  = "cat /proc/pressure/cpu"
    requires = ["cat"]
    regex    = "^some avg10=(?P<avg10>[0-9.]+) avg60=(?P<avg60>[0-9.]+)"
  }
  probe "psi_io" {
    command = "cat /proc/pressure/io"
    regex   = "^some avg10=(?P<avg10>[0-9.]+) avg60=(?P<avg60>[0-9.]+)"
  }

  check "load" {
    crit    = num(probe.loadavg.rows[0].l1) > 2 * try(host.facts.cpus, 1)
    warn    = num(probe.loadavg.rows[0].l1) > try(host.facts.cpus, 1)
    message = "load ${probe.loadavg.rows[0].l1} / ${probe.loadavg.rows[0].l5} / ${probe.loadavg.rows[0].l15} on ${try(host.facts.cpus, "?")} CPUs (${probe.loadavg.rows[0].running} running)"
  }
  check "cpu_hog" {
    for_each = { for r in probe.top_cpu.rows : r.pid => r if num(r.pcpu) != null }
    warn     = num(each.value.pcpu) >= var.cpu_hog_pct
    message  = "${each.value.comm} (pid ${each.key}, user ${each.value.user}) uses ${each.value.pcpu}% CPU, running for ${each.value.etime}"
  }
  check "blocked_on_io" {
    warn    = length(probe.blocked.rows) > 0
    message = "${length(probe.blocked.rows)} process(es) in D state (waiting on I/O): ${join(", ", [for r in probe.blocked.rows : "${r.comm}[${r.pid}]"])}"
  }
  check "swap_in_use" {
    warn    = num(probe.meminfo.values["SwapTotal"]) - num(probe.meminfo.values["SwapFree"]) > 0
    message = "swap in use: ${floor((num(probe.meminfo.values["SwapTotal"]) - num(probe.meminfo.values["SwapFree"])) / 1024)} MiB"
  }
  check "memory_low" {
    crit    = num(probe.meminfo.values["MemAvailable"]) < 0.05 * num(probe.meminfo.values["MemTotal"])
    warn    = num(probe.meminfo.values["MemAvailable"]) < 0.10 * num(probe.meminfo.values["MemTotal"])
    message = "only ${floor(num(probe.meminfo.values["MemAvailable"]) / 1024)} MiB of ${floor(num(probe.meminfo.values["MemTotal"]) / 1024)} MiB available"
  }
  check "cpu_pressure" {
    warn    = num(probe.psi_cpu.rows[0].avg10) > 40
    message = "tasks waited for a CPU ${probe.psi_cpu.rows[0].avg10}% of the last 10 s"
  }
  check "io_pressure" {
    warn    = num(probe.psi_io.rows[0].avg10) > 20
    message = "tasks waited on I/O ${probe.psi_io.rows[0].avg10}% of the last 10 s"
  }
}
