# A web tier: every host in the inventory group "web" gets a release of a
# static site, the server configuration, and a reload when the
# configuration changes (guarded by a configuration test).
#
#   drover validate examples/web/site.hcl
#   drover plan  -i inventory.hcl examples/web/site.hcl
#   drover apply -i inventory.hcl examples/web/site.hcl --var release=2025.02
#
# The inventory needs a group "web" (see inventory.example.hcl). Hosts need
# only a POSIX shell; nothing here installs packages.

variable "site_name" {
  type    = string
  default = "example.test"
}

variable "release" {
  type        = string
  default     = "2025.01"
  description = "The release directory to deploy and point current at."
  validation {
    condition     = can(regex("^[0-9]{4}\\.[0-9]{2}$", var.release))
    error_message = "release must look like 2025.01."
  }
}

variable "app_port" {
  type    = number
  default = 8080
  validation {
    condition     = var.app_port > 1024 && var.app_port < 65536
    error_message = "app_port must be between 1025 and 65535."
  }
}

variable "admin_token" {
  type      = string
  default   = "replace-me-with-a-real-token"
  sensitive = true
}

locals {
  www       = "/srv/www"
  conf_dir  = "/etc/webapp"
  release   = "${local.www}/releases/${var.release}"
  upstreams = { api = 9001, search = 9002 }
}

play "web" {
  hosts = "web"

  directory "releases" {
    path = "${local.www}/releases"
  }

  directory "release" {
    path = local.release
  }

  template "index" {
    source = "templates/index.html.tftpl"
    path   = "${directory.release.path}/index.html"
    vars = {
      site    = var.site_name
      host    = host.name
      release = var.release
    }
  }

  symlink "current" {
    path   = "${local.www}/current"
    target = directory.release.path
  }

  directory "conf" {
    path = local.conf_dir
    mode = "0750"
  }

  template "server" {
    source = "templates/server.conf.tftpl"
    path   = "${directory.conf.path}/server.conf"
    mode   = "0640"
    vars = {
      site      = var.site_name
      port      = var.app_port
      root      = symlink.current.path
      upstreams = local.upstreams
    }
    notify = [handler.reload]
  }

  # One file per upstream.
  file "upstream" {
    for_each = local.upstreams
    path     = "${directory.conf.path}/upstream-${each.key}.conf"
    content  = "upstream ${each.key} { server 127.0.0.1:${each.value}; }\n"
    notify   = [handler.reload]
  }

  # Masked in every output.
  file "admin_token" {
    path    = "${directory.conf.path}/admin.token"
    content = "${var.admin_token}\n"
    mode    = "0600"
  }

  line "hosts" {
    path = "/etc/hosts"
    line = "127.0.1.1 ${var.site_name}"
  }

  # Runs once per release: creates says when it is done.
  command "warm_cache" {
    run     = ["sh", "-c", "ls \"$1\" > \"$1/.manifest\"", "warm", local.release]
    creates = "${local.release}/.manifest"
  }

  # The configuration is tested before the reload; a broken configuration
  # fails the handler instead of taking the site down.
  handler "reload" {
    shell {
      run = <<-EOT
        grep -q '^listen ${var.app_port};$' ${local.conf_dir}/server.conf
        date -u +%Y-%m-%dT%H:%M:%SZ >> ${local.www}/reloads.log
      EOT
    }
  }
}
