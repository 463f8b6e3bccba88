// The NeuralLayers target; its types arrive with their issues.
