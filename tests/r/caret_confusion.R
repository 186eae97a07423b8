# Cross-check of statdl.confusion_matrix against caret::confusionMatrix.
# Usage: Rscript caret_confusion.R cases.json out.json
# cases.json: a list of {name, labels, table (rows = Prediction, row-major), positive?,
#             prevalence? (number, or named list for > 2 classes)}.
# out.json: for each case name, {overall: {...}, byClass: {...} or {class: {...}}}.
suppressPackageStartupMessages({
  library(caret)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
num <- function(x) {
  # NA and NaN both become the string "NaN" so the Python side reads them as missing
  out <- as.list(unname(x))
  names(out) <- names(x)
  lapply(out, function(v) if (is.na(v)) "NaN" else sprintf("%.17g", v))
}
result <- list()
for (case in cases) {
  labels <- unlist(case$labels)
  k <- length(labels)
  tab <- as.table(matrix(as.numeric(unlist(case$table)), nrow = k, byrow = TRUE,
                         dimnames = list(Prediction = labels, Reference = labels)))
  positive <- if (is.null(case$positive)) NULL else as.character(case$positive)
  prevalence <- NULL
  if (!is.null(case$prevalence)) {
    prevalence <- unlist(case$prevalence)
  }
  cm <- confusionMatrix(tab, positive = positive, prevalence = prevalence)
  by <- cm$byClass
  if (is.matrix(by)) {
    rows <- list()
    for (i in seq_len(nrow(by))) rows[[labels[i]]] <- num(by[i, ])
    by <- rows
  } else {
    by <- num(by)
  }
  result[[case$name]] <- list(overall = num(cm$overall), byClass = by,
                              positive = if (is.null(cm$positive)) "" else cm$positive,
                              table = as.vector(t(unclass(cm$table))))
}
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA), args[2])
