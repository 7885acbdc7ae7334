variable "root" { type = string }

play "base" {
  hosts = "all"
  tags  = ["base"]

  directory "app" {
    path = "${var.root}/app"
  }
  file "conf" {
    path    = "${var.root}/app.conf"
    content = "dir=${directory.app.path}\n"
    tags    = ["config"]
    notify  = [handler.reload]
  }
  file "motd" {
    path    = "${var.root}/motd"
    content = "hello\n"
    tags    = ["motd"]
  }
  file "stamp" {
    path    = "${var.root}/stamp"
    content = "run\n"
    tags    = ["always"]
  }
  file "debug" {
    path    = "${var.root}/debug"
    content = "debug\n"
    tags    = ["never", "debug"]
  }
  handler "reload" {
    file {
      path    = "${var.root}/reloaded"
      content = "yes\n"
    }
  }
}

play "other" {
  hosts = "all"

  file "unrelated" {
    path    = "${var.root}/unrelated"
    content = "x\n"
  }
}
