variable "root" { type = string }

play "local" {
  hosts = "all"

  directory "etc" {
    path = "${var.root}/etc"
  }
  file "conf" {
    for_each = toset(["a", "b", "c"])
    path     = "${directory.etc.path}/${each.key}.conf"
    content  = "key ${each.key}\n"
    mode     = "0640"
    notify   = [handler.reload]
  }
  # Runs code: what comes after it is read again before it acts.
  command "stamp" {
    run     = ["sh", "-c", "echo stamped > $0", "${var.root}/etc/stamp"]
    creates = "${var.root}/etc/stamp"
  }
  line "stamp" {
    path       = "${var.root}/etc/stamp"
    line       = "checked"
    depends_on = [command.stamp]
  }
  file "last" {
    path       = "${var.root}/etc/last"
    content    = "last\n"
    depends_on = [line.stamp]
  }
  handler "reload" {
    command {
      run = ["touch", "${var.root}/reloaded"]
    }
  }
}
