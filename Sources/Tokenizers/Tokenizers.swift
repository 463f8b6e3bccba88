// The Tokenizers target; its types arrive with their issues.
