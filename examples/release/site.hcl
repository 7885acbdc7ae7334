# Rolling, self-healing deploys of a small web app (docs/releases.md).
#
#   drover apply -i inventory.example.hcl site.hcl
#   drover releases -i inventory.example.hcl web site
#   drover rollback -i inventory.example.hcl web site
#
# app/ is pushed from this machine into /srv/site/releases/<id>/ on every
# host, two hosts at a time; a host whose new release fails its health check
# switches back by itself, and the rollout stops there.

variable "port" {
  type    = number
  default = 8080
}

play "deploy" {
  hosts    = "web"
  serial   = "50%" # half the hosts per batch
  max_fail = 0     # the first failed host stops the rollout

  release "site" {
    path   = "/srv/site"
    source = "app"
    shared = ["log"]
    build  = ["sh bin/build"]
    keep   = 5
    # A real app would use switch = { service = "site", action = "restart" }.
    switch = { command = "sh bin/restart ${var.port}" }

    healthcheck {
      http     = "http://127.0.0.1:${var.port}/health"
      expect   = 200
      timeout  = "10s"
      interval = "250ms"
    }
  }
}
