{
  "targets": [
    {
      "target_name": "memory_release",
      "sources": ["memory_release.c"]
    }
  ]
}
