env        = "dev"
web_count  = 1
web_size   = "s-1vcpu-1gb"
cache_size = "s-1vcpu-1gb"
