variable "root" { type = string }
variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024: ports below need root."
  }
}

play "local" {
  hosts = "all"

  file "conf" {
    path    = "${var.root}/app.conf"
    content = "port=${var.port}\n"
  }
}
