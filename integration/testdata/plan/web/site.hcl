variable "token" {
  type      = string
  default   = "tok-3141-secret"
  sensitive = true
}

play "web" {
  hosts = "fleet"

  directory "www" {
    path = "/srv/www"
  }
  template "index" {
    source = "templates/index.html.tftpl"
    path   = "/srv/www/index.html"
    vars   = { host = host.name }
  }
  file "motd" {
    path    = "/etc/motd"
    content = "Managed by drover (${host.name}).\n"
  }
  file "token" {
    path    = "/srv/token"
    content = var.token
    mode    = "0600"
  }
  file "stale" {
    path  = "/srv/stale.conf"
    state = "absent"
  }
  shell "uptime" {
    run = "uptime > /srv/www/uptime.txt"
  }
  file "uptime_copy" {
    path    = "/srv/www/uptime-copy.txt"
    content = shell.uptime.stdout
  }
}
