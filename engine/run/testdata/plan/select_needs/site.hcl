variable "root" { type = string }

play "local" {
  hosts = "all"

  command "version" {
    run = ["echo", "1.2"]
  }
  file "release" {
    path    = "${var.root}/release"
    content = "version=${command.version.stdout}"
    tags    = ["deploy"]
  }
}
