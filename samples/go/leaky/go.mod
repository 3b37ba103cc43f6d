module snapdiff.example/leaky

go 1.19
