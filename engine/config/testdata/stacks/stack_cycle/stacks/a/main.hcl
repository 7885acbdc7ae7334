stack "b" {
  source = "../b"
}
