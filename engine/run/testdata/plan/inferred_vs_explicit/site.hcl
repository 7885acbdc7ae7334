variable "root" { type = string }

play "local" {
  hosts = "all"

  # The paths suggest logs before app.log, but the playbook says otherwise:
  # the written order wins and the inferred edge is dropped (no cycle error).
  file "app_log" {
    path    = "${var.root}/logs/app.log"
    content = ""
  }
  directory "logs" {
    path       = "${var.root}/logs"
    depends_on = [file.app_log]
  }
  # Declared before the directory it is in: it moves after it.
  file "conf" {
    path    = "${var.root}/etc/app.conf"
    content = "x\n"
  }
  directory "etc" {
    path = "${var.root}/etc"
  }
}
