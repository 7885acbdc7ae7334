directory "home" {
  path = "/srv/app"
}

output "home" {
  value = directory.hoem.path
}

output "port" {
  value = var.port
}
