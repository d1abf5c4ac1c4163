"""Order of the examples in the gallery: from a first model to the inner workings."""

ORDER = [
    "plot_quickstart.py",
    "plot_variable_length_classification.py",
    "plot_forecasting_co2.py",
    "plot_sequence_tagging.py",
    "plot_hidden_state_heatmap.py",
    "plot_char_language_model.py",
    "plot_parenthesis_depth.py",
    "plot_word_language_model.py",
    "plot_grid_search.py",
    "plot_seed_ensembles.py",
    "plot_gradient_clipping.py",
    "plot_vanishing_exploding_gradients.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order``: the order above, then any other file by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename), filename) if filename in ORDER else (len(ORDER), filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
