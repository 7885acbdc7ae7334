# A small stack from nothing: two web droplets on DigitalOcean and a database
# Linode, created (or found) by their ownership tags, then configured.
#
#   export DIGITALOCEAN_TOKEN=... LINODE_TOKEN=... DROVER_VAR_linode_root_pass=...
#   drover validate site.hcl                         # no credentials or network needed
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

variable "linode_root_pass" {
  type        = string
  sensitive   = true
  description = "Root password of the Linode (the API requires one; 7 to 128 characters). drover logs in with the key."
}

variable "web_size" {
  type        = string
  default     = "s-1vcpu-1gb"
  description = "Droplet size. Changing it resizes the droplets in place (power off, resize, power on)."
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
  size     = var.web_size
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
  root_pass       = var.linode_root_pass
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
