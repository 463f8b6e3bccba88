// The Seq2SeqModels target; its types arrive with their issues.
