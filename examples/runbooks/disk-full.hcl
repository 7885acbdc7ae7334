# "The disk is full": which filesystem, what fills it, whether the space is
# held by deleted files that a process keeps open, inodes, read-only remounts
# after I/O errors.
#
#   drover run -i inventory.hcl examples/runbooks/disk-full.hcl web3

variable "warn_pct" {
  type    = number
  default = 85
}

variable "crit_pct" {
  type    = number
  default = 95
}

variable "path" {
  description = "Where to look for what takes the space (du, one filesystem)."
  type        = string
  default     = "/"
}

runbook "disk-full" {
  description = "What fills the disks"

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
  probe "biggest_dirs" {
    # du reads a whole tree: it is cut at 20 s and what it summed is kept.
    command       = "timeout 20 du -xh -d 1 ${var.path} 2>/dev/null | sort -rh | head -25"
    requires      = ["timeout", "du"]
    fallback      = ["du -xh -d 1 ${var.path} 2>/dev/null | sort -rh | head -25"]
    timeout       = 30
    ok_exit_codes = [0, 1, 124]
  }
  probe "big_files" {
    command       = "find ${var.path} -xdev -type f -size +100M -printf '%s\\t%p\\n' 2>/dev/null | sort -rn | head -20"
    timeout       = 30
    ok_exit_codes = [0, 1]
    format        = "table"
    header        = false
    separator     = "\t"
    columns       = ["bytes", "path"]
  }
  probe "deleted_open" {
    # Space a deleted file still holds until the process closes it.
    command       = "lsof -nP +L1 2>/dev/null | awk 'NR > 1 { n = \"\"; for (i = 10; i <= NF; i++) n = n \" \" $i; print $1, $2, $7, n }' | grep -v memfd: | head -30"
    requires      = ["lsof"]
    fallback      = ["for f in /proc/[0-9]*/fd/*; do l=$(readlink \"$f\" 2>/dev/null) || continue; case $l in *' (deleted)') p=$${f#/proc/}; echo \"$(cat /proc/$${p%%/*}/comm 2>/dev/null) $${p%%/*} ? $l\";; esac; done | head -30"]
    ok_exit_codes = [0, 1]
    format        = "table"
    header        = false
    columns       = ["command", "pid", "size", "path"]
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
  probe "io_errors" {
    command       = "dmesg 2>/dev/null | grep -iE 'I/O error|EXT4-fs error|XFS.*(error|corrupt)|remount.*read-only|Buffer I/O' | tail -20"
    ok_exit_codes = [0, 1]
    format        = "lines"
  }
  probe "journal_usage" {
    command  = "journalctl --disk-usage"
    requires = ["journalctl"]
  }

  check "disk_full" {
    for_each = { for r in probe.df.rows : r.mount => r if num(r.pct) != null }
    crit     = num(each.value.pct) >= var.crit_pct
    warn     = num(each.value.pct) >= var.warn_pct
    message  = "${each.key} is ${each.value.pct} full (${each.value.avail} left of ${each.value.size}, ${each.value.filesystem})"
  }
  check "inodes_full" {
    for_each = { for r in probe.df_inodes.rows : r.mount => r if num(r.pct) != null }
    crit     = num(each.value.pct) >= var.crit_pct
    warn     = num(each.value.pct) >= var.warn_pct
    message  = "${each.key} has used ${each.value.pct} of its inodes (${each.value.ifree} left)"
  }
  check "deleted_but_open" {
    warn    = length(probe.deleted_open.rows) > 0
    message = "${length(probe.deleted_open.rows)} deleted file(s) are still held open (first: ${try(probe.deleted_open.rows[0].path, "")} by ${try(probe.deleted_open.rows[0].command, "")} pid ${try(probe.deleted_open.rows[0].pid, "")}); restart or signal the process to free the space"
  }
  check "read_only_mount" {
    for_each = { for r in probe.mounts.rows : r.mount => r...
    if contains(["ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "vfat", "f2fs", "tmpfs", "overlay", "nfs", "nfs4"], r.fstype) }
    crit    = length([for m in each.value : m if contains(split(",", m.options), "ro")]) > 0
    message = "${each.key} (${each.value[0].fstype} on ${each.value[0].device}) is mounted read-only"
  }
  check "io_errors" {
    crit    = length(probe.io_errors.lines) > 0
    message = "the kernel logged ${length(probe.io_errors.lines)} I/O or filesystem error line(s); last: ${try(probe.io_errors.lines[length(probe.io_errors.lines) - 1], "")}"
  }
}
