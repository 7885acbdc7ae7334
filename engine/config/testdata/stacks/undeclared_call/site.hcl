play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = "shop"
  }
  template "motd" {
    source = "motd.tftpl"
    path   = "/etc/motd"
    vars   = { url = stack.ap.url }
  }
}
play "db" {
  hosts = "all"
  directory "d" {
    path       = "/d"
    depends_on = [stack.app]
  }
}
