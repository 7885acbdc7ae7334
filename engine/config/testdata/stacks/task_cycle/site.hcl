play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = directory.top.path
  }
  directory "top" {
    path = stack.app.home
  }
}
