# A first playbook: lays out a small app tree in a scratch directory on this
# machine. Run it with
#
#   drover plan  -i examples/local/inventory.hcl examples/local/site.hcl --var dir=/tmp/drover-demo
#   drover apply -i examples/local/inventory.hcl examples/local/site.hcl --var dir=/tmp/drover-demo
#
# A second apply reports nothing changed.

variable "dir" {
  type        = string
  description = "Absolute path of the scratch directory drover manages."
  validation {
    condition     = startswith(var.dir, "/") && var.dir != "/"
    error_message = "dir must be an absolute path other than /, such as /tmp/drover-demo."
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

variable "api_token" {
  type      = string
  default   = "change-me"
  sensitive = true
}

locals {
  app   = "${var.dir}/app"
  sites = { blog = 8081, shop = 8082 }
}

play "scratch" {
  hosts = "localhost"

  directory "root" {
    path = var.dir
    mode = "0755"
  }

  directory "app" {
    path = local.app
    mode = "0750"
  }

  directory "conf" {
    path = "${directory.app.path}/conf.d"
  }

  template "config" {
    source = "templates/app.conf.tftpl"
    path   = "${local.app}/app.conf"
    mode   = "0640"
    vars = {
      port  = var.app_port
      owner = host.vars.owner_name
      sites = local.sites
    }
    notify = [handler.validate]
  }

  # One file per site, from a map.
  file "site" {
    for_each = local.sites
    path     = "${directory.conf.path}/${each.key}.conf"
    content  = "server ${each.key} on port ${each.value}\n"
  }

  # A secret: masked in plan and apply output.
  file "token" {
    path    = "${local.app}/token"
    content = "${var.api_token}\n"
    mode    = "0600"
  }

  line "motd" {
    path   = "${var.dir}/motd"
    line   = "Managed by drover for ${host.name}."
    create = true
  }

  symlink "current" {
    path   = "${var.dir}/current"
    target = local.app
  }

  command "stamp" {
    run     = ["sh", "-c", "date -u +%Y-%m-%dT%H:%M:%SZ > \"$1\"", "stamp", "${var.dir}/installed-at"]
    creates = "${var.dir}/installed-at"
  }

  handler "validate" {
    shell {
      run = "grep -q '^port = ' ${local.app}/app.conf && touch ${var.dir}/.validated"
    }
  }
}
