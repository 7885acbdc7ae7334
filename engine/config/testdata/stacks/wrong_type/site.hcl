play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/app"
    name   = "shop"
    port   = "eighty"
    tags   = { a = 1 }
  }
}
