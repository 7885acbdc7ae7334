play "web" {
  hosts = "all"
  stack "app" {
    source = "./stacks/nope"
  }
  stack "other" {
    source = "stacks/app"
  }
}
