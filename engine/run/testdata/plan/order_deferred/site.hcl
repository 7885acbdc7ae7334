variable "root" { type = string }

play "local" {
  hosts = "all"

  # Declared before its directory: drover infers that the directory comes
  # first from the paths.
  file "conf" {
    path    = "${var.root}/etc/app.conf"
    content = "port=8080\n"
  }
  directory "etc" {
    path = "${var.root}/etc"
    mode = "0750"
  }
  command "version" {
    run = ["echo", "1.2.3"]
  }
  # Uses the command's output: evaluated when reached during apply.
  file "version" {
    path    = "${var.root}/etc/version"
    content = "${command.version.stdout}\n"
  }
  directory "logs" {
    count = 2
    path  = "${var.root}/logs-${count.index}"
  }
}
