# A small stack from nothing: two web droplets on DigitalOcean and a database
# Linode, created (or found) by their ownership tags, then configured.
#
#   export DIGITALOCEAN_TOKEN=... LINODE_TOKEN=...
#   drover plan  -i inventory.hcl site.hcl --var do_ssh_key=<fingerprint> --var linode_ssh_key="$(cat ~/.ssh/id_ed25519.pub)"
#   drover apply -i inventory.hcl site.hcl --var ...   # creates, waits, configures
#   drover apply -i inventory.hcl site.hcl --var ...   # creates nothing the second time
#   drover destroy site.hcl --var ... --yes            # deletes what carries the tags, nothing else

variable "do_ssh_key" {
  type        = string
  description = "Fingerprint (or id) of an SSH key in your DigitalOcean account."
}

variable "linode_ssh_key" {
  type        = string
  description = "An SSH public key for root on the Linode."
}

variable "web_count" {
  type    = number
  default = 2
}

# API base URLs: empty means the providers' own. Tests point them at fakes.
variable "do_endpoint" {
  type    = string
  default = ""
}

variable "linode_endpoint" {
  type    = string
  default = ""
}

provision "digitalocean_droplet" "web" {
  count    = var.web_count
  stack    = "shop"
  name     = "shop-web-${count.index}"
  region   = "ams3"
  size     = "s-1vcpu-1gb"
  image    = "debian-12-x64"
  ssh_keys = [var.do_ssh_key]
  tags     = ["role:web"]
  groups   = ["web"]
  endpoint = var.do_endpoint
}

provision "linode_instance" "db" {
  stack           = "shop"
  name            = "shop-db-0"
  region          = "eu-central"
  type            = "g6-nanode-1"
  image           = "linode/debian12"
  authorized_keys = [var.linode_ssh_key]
  tags            = ["role:db"]
  groups          = ["db"]
  endpoint        = var.linode_endpoint
}

play "web" {
  hosts = "web"

  package "nginx" {
    names        = ["nginx"]
    update_cache = true
  }

  file "index" {
    path    = "/var/www/html/index.html"
    content = "<h1>${host.name}</h1>\n"
  }
}

play "db" {
  hosts = "db"

  package "postgres" {
    names        = ["postgresql"]
    update_cache = true
  }
}
