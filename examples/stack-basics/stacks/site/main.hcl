# A site: its directory, a server configuration rendered from a template
# (the "conf" stack writes its environment file), and a handler that marks
# a reload when the configuration changed.

variable "name" {
  type        = string
  description = "Name of the site: its directory under root."
}

variable "root" {
  type        = string
  description = "Absolute directory holding the site's directory."
}

variable "domain" {
  type        = string
  description = "Domain the site answers for."
}

variable "port" {
  type        = number
  default     = 8080
  description = "Port the site listens on."
  validation {
    condition     = var.port > 1024 && var.port < 65536
    error_message = "port must be between 1025 and 65535."
  }
}

locals {
  home = "${var.root}/${var.name}"
}

directory "home" {
  path = local.home
  mode = "0755"
}

stack "conf" {
  source = "./stacks/conf"
  path   = "${directory.home.path}/env"
  values = { DOMAIN = var.domain, PORT = tostring(var.port) }
}

template "server" {
  source = "templates/server.conf.tftpl"
  path   = "${local.home}/server.conf"
  vars   = { domain = var.domain, port = var.port, env = stack.conf.path }
  notify = [handler.reload]
}

handler "reload" {
  file {
    path    = "${local.home}/reloaded"
    content = "server.conf changed\n"
  }
}

output "url" {
  value       = "http://${var.domain}:${var.port}/"
  description = "Where the site answers."
}

output "config" {
  value       = template.server.path
  description = "Path of the server configuration."
}
