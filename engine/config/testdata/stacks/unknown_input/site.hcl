play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = "shop"
    prot   = 80
  }
}
