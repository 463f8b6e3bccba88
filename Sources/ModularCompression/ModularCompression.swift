// The ModularCompression target; its types arrive with their issues.
