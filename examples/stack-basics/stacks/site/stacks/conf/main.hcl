# An environment file: one KEY=value line per entry of values.

variable "path" {
  type        = string
  description = "Absolute path of the file."
}

variable "values" {
  type        = map(string)
  default     = {}
  description = "The variables, by name."
}

file "env" {
  path    = var.path
  content = join("", [for k in sort(keys(var.values)) : "${k}=${var.values[k]}\n"])
  mode    = "0640"
}

output "path" {
  value       = file.env.path
  description = "Path of the file written."
}
