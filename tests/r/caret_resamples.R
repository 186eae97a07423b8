# caret's summary() and diff() of a resamples object built from given per-resample metrics.
# Usage: Rscript caret_resamples.R input.json output.json
# input: {"resample": [...], "models": [...], "metrics": [...], "values": {"A~RMSE": [...]}}
# (null = NA). Output: the statistics tables, every pairwise t.test and the printed text.
suppressMessages({library(caret); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
inp <- fromJSON(args[1], simplifyVector = TRUE)
vals <- data.frame(Resample = inp$resample, stringsAsFactors = FALSE)
for (col in names(inp$values)) vals[[col]] <- as.numeric(inp$values[[col]])
r <- structure(list(call = quote(resamples(x)), values = vals, models = inp$models,
                    metrics = inp$metrics, methods = inp$models), class = "resamples")
s <- summary(r)
d <- diff(r)
sd <- summary(d)
tests <- list()
for (m in names(d$statistics)) {
  for (pair in names(d$statistics[[m]])) {
    h <- d$statistics[[m]][[pair]]
    tests[[length(tests) + 1]] <- list(metric = m, pair = pair, estimate = unname(h$estimate),
                                       p_value = h$p.value, lower = h$conf.int[1],
                                       upper = h$conf.int[2])
  }
}
stats <- lapply(s$statistics, function(mat) list(rows = rownames(mat), cols = colnames(mat),
                                                 values = as.vector(t(mat))))
out <- list(statistics = stats, tests = tests, conf_level = d$confLevel,
            summary_text = capture.output(print(s)), diff_text = capture.output(print(sd)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), args[2])
