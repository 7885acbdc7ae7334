variable "root" { type = string }

play "local" {
  hosts = "all"

  file "conf" {
    path    = "${var.root}/app.conf"
    content = "x\n"
    mode    = "rwxr-xr-x"
  }
  file "relative" {
    path    = "app.conf"
    content = "x\n"
  }
}
