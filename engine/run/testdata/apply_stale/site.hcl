variable "root" { type = string }

play "local" {
  hosts = "all"

  file "content" {
    path    = "${var.root}/shared"
    content = "a\n"
  }
  # Manages only the mode of the same file: its batched read (no file yet)
  # is stale once file.content has written it, so it must re-read.
  file "mode" {
    path       = "${var.root}/shared"
    mode       = "0600"
    depends_on = [file.content]
  }
}
