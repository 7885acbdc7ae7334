variable "root" { type = string }

play "local" {
  hosts = "all"

  directory "etc" {
    path = "${var.root}/etc"
  }
  command "version" {
    run = ["echo", "1.2.3"]
  }
  file "version" {
    path    = "${var.root}/etc/version"
    content = "version ${command.version.stdout}\n"
  }
  file "per_key" {
    for_each = { a = "alpha", b = "beta" }
    path     = "${directory.etc.path}/${each.key}"
    content  = "${each.value}\n"
  }
  shell "restart" {
    run   = "echo restarted >> ${var.root}/restarts"
    when  = host.vars.role == "replica"
  }
}
