# A multi-instance service from one definition: drover generates a systemd
# template unit (drover-demo@.service), SysV init scripts or an OpenRC script
# for the host's init system, creates the service's user, starts and enables
# every instance, and reloads them when their configuration changes, after a
# configuration test (a broken configuration fails the handler and the
# instances keep running on the old one).
#
#   drover validate examples/services/site.hcl
#   drover initscript --init all examples/services/site.hcl     # review the files
#   drover apply -i inventory.hcl examples/services/site.hcl --var greeting=hi
#   drover apply -i inventory.hcl examples/services/site.hcl --var init_system=sysv
#
# The service is files/drover-demo-svc, a POSIX sh script that reads
# /etc/drover-demo/INSTANCE.conf and re-reads it on SIGHUP.

variable "instances" {
  type    = list(string)
  default = ["alpha", "beta"]
}

variable "greeting" {
  type        = string
  default     = "hello"
  description = "Written into every instance's configuration; a value with a space is refused by the config test."
}

variable "open_files" {
  type        = number
  default     = 4096
  description = "The instances' open file limit; changing it changes the unit or scripts, and drover restarts the instances after a config test."
}

variable "init_system" {
  type        = string
  default     = null
  description = "systemd, sysv or openrc; unset: the host's facts decide."
}

locals {
  conf_dir  = "/etc/drover-demo"
  state_dir = "/var/lib/drover-demo"
  program   = "/usr/local/bin/drover-demo-svc"
}

play "services" {
  hosts = "all"

  copy "program" {
    source = "files/drover-demo-svc"
    path   = local.program
    mode   = "0755"
  }

  directory "conf" {
    path = local.conf_dir
  }

  # init_service creates a missing user itself (create_user); here the state
  # directory must belong to the user before the service starts, so a user
  # task creates it first.
  user "demo" {
    name        = "drover-demo"
    system      = true
    create_home = false
    home        = "/nonexistent"
    shell       = "/usr/sbin/nologin"
  }

  # Writable by the service (ProtectSystem=full leaves /var writable).
  directory "state" {
    path  = local.state_dir
    owner = user.demo.name
  }

  # The service's own configuration: other tasks manage it and notify the
  # handler, which tests it before reloading.
  file "conf" {
    for_each = toset(var.instances)
    path     = "${directory.conf.path}/${each.key}.conf"
    content  = "greeting=${var.greeting}\nstate=${local.state_dir}/${each.key}.state\n"
    notify   = [handler.reload]
  }

  # ${instance} is each instance's name: %i in the systemd unit,
  # $INSTANCE in SysV scripts, the symlink's suffix in OpenRC.
  init_service "drover-demo" {
    instances   = var.instances
    description = "drover demo service"
    command     = "${local.program} ${local.conf_dir}/${instance}.conf"
    user        = user.demo.name
    create_user = false
    config_test = "${local.program} --check ${local.conf_dir}/${instance}.conf"
    reload      = "signal:HUP"
    before_stop = "${local.program} --save ${local.conf_dir}/${instance}.conf"
    environment = { LANG = "C.UTF-8" }
    limits      = { nofile = var.open_files }
    after       = ["network-online.target"]
    init_system = var.init_system
    depends_on  = [file.conf, directory.state]
  }

  # Runs after a configuration file changed: the configuration test first,
  # then a reload of every instance (SIGHUP).
  handler "reload" {
    init_service {
      name        = "drover-demo"
      instances   = var.instances
      config_test = "${local.program} --check ${local.conf_dir}/${instance}.conf"
      init_system = var.init_system
      state       = "reloaded"
    }
  }
}
