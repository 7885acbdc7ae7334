stack "a" {
  source = "../a"
}
