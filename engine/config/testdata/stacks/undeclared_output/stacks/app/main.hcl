variable "port" {
  type    = number
  default = 8080
}

variable "name" {
  type        = string
  description = "The app's name."
}

variable "labels" {
  type    = list(string)
  default = []
}

directory "home" {
  path = "/srv/${var.name}"
}

output "url" {
  value = "http://localhost:${var.port}/"
}

output "home" {
  value = directory.home.path
}
