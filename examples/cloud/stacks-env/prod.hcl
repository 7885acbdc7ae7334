env        = "prod"
web_count  = 3
web_size   = "s-2vcpu-4gb"
lb_size    = "s-2vcpu-2gb"
cache_size = "s-2vcpu-4gb"
