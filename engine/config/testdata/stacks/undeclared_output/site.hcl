play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = "shop"
  }
  template "motd" {
    source = "motd.tftpl"
    path   = "/etc/motd"
    vars   = { url = stack.app.urll }
  }
}
