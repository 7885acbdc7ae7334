# The droplets join the groups their provision blocks name (lb, web, cache);
# this file says how to log in to them and the port the web hosts serve on
# (the haproxy stack's backends read it).
defaults {
  user          = "root"
  identity_file = "~/.ssh/id_ed25519"
}

group "web" {
  vars = { http_port = 8080 }
}
