variable "root" { type = string }

play "p" {
  hosts = "all"

  command "version" {
    run = ["echo", "1.4"]
  }

  stack "app" {
    source  = "./stacks/app"
    count   = 2
    tags    = ["app"]
    dir     = "${var.root}/app${count.index}"
    version = "v1"
  }

  stack "tagged" {
    source   = "./stacks/app"
    for_each = { blue = "b" }
    dir      = "${var.root}/${each.key}"
    version  = command.version.stdout
  }

  file "index" {
    path    = "${var.root}/index"
    content = "${stack.app[0].env}\n${stack.app[1].env}\n"
  }
}
