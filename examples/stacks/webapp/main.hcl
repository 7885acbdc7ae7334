# webapp: a release-deployed web app run as a systemd service.
#
# The program (files/webapp, built from server/) is installed once; each
# release (a directory with VERSION) is pushed into PATH/releases/<id>/ and
# goes live with a restart of the service, after which /health must answer
# 200: a release that fails it is switched back by itself and the task fails.

variable "name" {
  type        = string
  default     = "webapp"
  description = "Service name, and the directory name under /srv."
}

variable "source_dir" {
  type        = string
  description = "The release to deploy: a directory of this stack holding VERSION (releases/v1); a stack reads only its own files."
}

variable "port" {
  type        = number
  default     = 8080
  description = "Port the app listens on, on 127.0.0.1."
  validation {
    condition     = var.port > 1024 && var.port < 65536
    error_message = "port must be between 1025 and 65535."
  }
}

locals {
  path    = "/srv/${var.name}"
  program = "/usr/local/bin/${var.name}"
  args    = "-addr 127.0.0.1:${var.port} -dir ${local.path}/current"
}

copy "program" {
  source = "files/webapp"
  path   = local.program
  mode   = "0755"
}

# Started before the first release exists: the app then answers 503 until
# the release's switch restarts it on a release.
init_service "app" {
  name        = var.name
  description = "recipe book web app ${var.name}"
  command     = "${local.program} ${local.args}"
  config_test = "${local.program} -check ${local.args}"
  user        = "root"
  restart     = "always"
  depends_on  = [copy.program]
}

release "app" {
  path       = local.path
  source     = var.source_dir
  keep       = 3
  switch     = { service = var.name, action = "restart" }
  depends_on = [init_service.app]

  healthcheck {
    http     = "http://127.0.0.1:${var.port}/health"
    expect   = 200
    timeout  = "10s"
    interval = "200ms"
  }
}

output "url" {
  value       = "http://127.0.0.1:${var.port}/"
  description = "Where the app answers."
}

output "version_url" {
  value       = "http://127.0.0.1:${var.port}/version"
  description = "Answers the live release's VERSION."
}
