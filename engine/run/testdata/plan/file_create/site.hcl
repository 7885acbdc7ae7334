variable "root" { type = string }

play "local" {
  hosts = "all"

  file "motd" {
    path    = "${var.root}/motd"
    content = "hello\n"
    mode    = "0640"
  }
}
