# The recipe book's environment (examples/stacks: haproxy in front of the
# web hosts, Redis on the cache host), hosts included: one `drover apply`
# creates the droplets (or finds them by their ownership tags) and then
# configures them with the stacks. prod.hcl and dev.hcl size the same
# stacks differently.
#
#   export DIGITALOCEAN_TOKEN=...
#   drover validate --allow-local examples/stacks examples/cloud/stacks-env/site.hcl --var-file examples/cloud/stacks-env/dev.hcl
#   drover plan  -i examples/cloud/stacks-env/inventory.hcl --allow-local examples/stacks examples/cloud/stacks-env/site.hcl --var-file examples/cloud/stacks-env/prod.hcl --var do_ssh_key=<fingerprint>
#   drover apply ... (the same flags)
#
# The stacks stay in examples/stacks: a playbook calls stacks outside its
# directory only when the operator allows that directory (--allow-local).

variable "do_ssh_key" {
  type        = string
  description = "Fingerprint (or id) of an SSH key in your DigitalOcean account."
}

variable "env" {
  type        = string
  description = "Environment name: the droplets' ownership stack and name prefix, so prod and dev never adopt each other's hosts."
}

variable "web_count" {
  type = number
}

variable "web_size" {
  type = string
}

variable "lb_size" {
  type    = string
  default = "s-1vcpu-1gb"
}

variable "cache_size" {
  type = string
}

variable "region" {
  type    = string
  default = "ams3"
}

variable "release" {
  type    = string
  default = "v1"
}

# API base URL: empty means DigitalOcean's own. Tests point it at a fake.
variable "do_endpoint" {
  type    = string
  default = ""
}

provision "digitalocean_droplet" "lb" {
  stack    = var.env
  name     = "${var.env}-lb-0"
  region   = var.region
  size     = var.lb_size
  image    = "debian-12-x64"
  ssh_keys = [var.do_ssh_key]
  tags     = ["role:lb"]
  groups   = ["lb"]
  endpoint = var.do_endpoint
}

provision "digitalocean_droplet" "web" {
  count    = var.web_count
  stack    = var.env
  name     = "${var.env}-web-${count.index}"
  region   = var.region
  size     = var.web_size
  image    = "debian-12-x64"
  ssh_keys = [var.do_ssh_key]
  tags     = ["role:web"]
  groups   = ["web"]
  endpoint = var.do_endpoint
}

provision "digitalocean_droplet" "cache" {
  stack    = var.env
  name     = "${var.env}-cache-0"
  region   = var.region
  size     = var.cache_size
  image    = "debian-12-x64"
  ssh_keys = [var.do_ssh_key]
  tags     = ["role:cache"]
  groups   = ["cache"]
  endpoint = var.do_endpoint
}

play "balancer" {
  hosts = "lb"

  stack "lb" {
    source = "../../stacks/haproxy"
    group  = "web"
  }
}

play "cache" {
  hosts = "cache"

  stack "redis" {
    source    = "../../stacks/redis"
    instances = { sessions = 6380, jobs = 6381 }
  }
}

play "web" {
  hosts  = "web"
  serial = 1

  stack "app" {
    source     = "../../stacks/webapp"
    source_dir = "releases/${var.release}"
    port       = host.vars.http_port
  }
}
