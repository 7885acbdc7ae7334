play "web" {
  hosts = "all"
  stack "app" {
    source = "../../../../stack-outside"
  }
}
