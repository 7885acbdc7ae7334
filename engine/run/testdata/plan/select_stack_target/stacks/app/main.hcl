variable "dir" { type = string }

variable "version" {
  type    = string
  default = "dev"
}

directory "home" {
  path = var.dir
}

stack "env" {
  source = "./stacks/env"
  path   = "${directory.home.path}/env"
  lines  = ["VERSION=${var.version}"]
}

output "env" {
  value = stack.env.path
}
