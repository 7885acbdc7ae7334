play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = "shop"
    port   = "eighty"
    labels = { a = 1 }
  }
}
