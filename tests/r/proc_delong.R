# Cross-check of statdl.roc_auc against pROC's DeLong interval.
# Usage: Rscript proc_delong.R in.json out.json; in.json = list of {name, y (0/1), prob}.
suppressPackageStartupMessages({ library(pROC); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (case in cases) {
  r <- roc(unlist(case$y), unlist(case$prob), levels = c(0, 1), direction = "<", quiet = TRUE)
  ci <- ci.auc(r, method = "delong")
  out[[case$name]] <- sprintf("%.17g", as.numeric(ci))  # lower, auc, upper
}
writeLines(toJSON(out, auto_unbox = FALSE), args[2])
