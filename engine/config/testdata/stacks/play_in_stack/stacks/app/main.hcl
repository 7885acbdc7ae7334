variable "count" {
  type    = number
  default = 1
}

play "inner" {
  hosts = "all"
}

directory "d" {
  path = "/srv"
  notify = [handler.reload]
}
