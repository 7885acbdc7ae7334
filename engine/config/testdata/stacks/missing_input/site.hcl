play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    port   = 9000
  }
}
