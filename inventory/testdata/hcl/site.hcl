# A small site: two web servers behind a bastion, a database, a canary.
defaults {
  user          = "deploy"
  identity_file = "~/.ssh/id_ed25519"
  vars          = { env = "prod", region = "eu" }
}

host "bastion" {
  address = "203.0.113.10"
  port    = 2222
}

host "web1" {
  address    = "10.0.0.11"
  proxy_jump = "bastion"
  vars       = { role = "primary" }
}

host "web2" {
  address       = "10.0.0.12"
  proxy_jump    = "bastion"
  identity_file = ["keys/web", "~/.ssh/other"]
  groups        = ["canary"]
}

host "db1" {
  user        = "admin"
  become      = true
  become_user = "postgres"
  connect_timeout = "5s"
  groups      = ["db"]
}

host "localhost" {
  connection = "local"
}

group "web" {
  hosts    = ["web1"]
  children = ["canary"]
  vars     = { http_port = 80, region = "us" }
}

group "canary" {
  port = 2200
  vars = { http_port = 8080 }
}

group "all" {
  vars = { region = "global", ntp = "pool.ntp.org" }
}
